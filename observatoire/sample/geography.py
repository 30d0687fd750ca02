"""Where can a sample establishment be: which départements, regions and communes?

Départements and regions come from the bundled INSEE COG 2024 (package data); FINESS
writes overseas départements with its own codes (`9A` Guadeloupe … `9F` Mayotte, plus
`9E` Saint-Pierre-et-Miquelon and `9J` Wallis-et-Futuna, which have no ARS region).
Communes are a hand-picked list of real towns (3-digit FINESS commune code, name as in
`ligneacheminement`, postal code) for the regions that get centres de santé, and the
préfecture elsewhere.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from importlib import resources

# FINESS département code -> COG département code (finess.md).
FINESS_TO_COG = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976", "9J": "986"}
COG_TO_FINESS = {cog: finess for finess, cog in FINESS_TO_COG.items()}

# The first characters of a FINESS number registered in a département: overseas numbers
# are "97"/"98", a 0 and the territory digit (real ones: 9701… Guadeloupe, 9704… Réunion,
# 9805… Mayotte, 9806… Wallis-et-Futuna).
FINESS_NUMBER_PREFIX = {"9A": "9701", "9B": "9702", "9C": "9703", "9D": "9704", "9E": "9705", "9F": "9805", "9J": "9806"}

# Territories without an ARS region, absent from the COG file.
EXTRA_DEPARTEMENTS = {"9E": "ST PIERRE ET MIQUELON", "9J": "WALLIS ET FUTUNA"}


@dataclass(frozen=True)
class Commune:
    departement: str  # FINESS code: "69", "2A", "9A"
    code: str  # 3-digit commune code within the département
    name: str  # upper case, as in ligneacheminement
    postal_code: str

    @property
    def insee(self) -> str:
        """INSEE commune code: "97"/"98" + commune overseas, département + commune elsewhere."""
        if self.departement in FINESS_TO_COG:
            return FINESS_TO_COG[self.departement][:2] + self.code
        return self.departement + self.code

    @property
    def acheminement(self) -> str:
        return f"{self.postal_code} {self.name}"


@dataclass(frozen=True)
class Departement:
    code: str  # FINESS code
    label: str  # libdepartement, upper case without accents
    region_code: str | None


def _c(dep: str, rows: str) -> list[Commune]:
    communes = []
    for row in rows.strip().split("\n"):
        code, name, postal = (part.strip() for part in row.split("|"))
        communes.append(Commune(dep, code, name, postal))
    return communes


# Towns that get centres de santé (the last one of each list is kept for other
# establishments only, so that a commune without any centre exists in every département).
CDS_COMMUNES: dict[str, list[Commune]] = {
    # Auvergne-Rhône-Alpes
    "01": _c("01", "053|BOURG EN BRESSE|01000\n283|OYONNAX|01100\n004|AMBERIEU EN BUGEY|01500\n173|GEX|01170"),
    "03": _c("03", "185|MONTLUCON|03100\n310|VICHY|03200\n190|MOULINS|03000"),
    "07": _c("07", "010|ANNONAY|07100\n186|PRIVAS|07000"),
    "26": _c("26", "362|VALENCE|26000\n198|MONTELIMAR|26200\n281|ROMANS SUR ISERE|26100"),
    "38": _c("38", "185|GRENOBLE|38000\n421|ST MARTIN D HERES|38400\n151|ECHIROLLES|38130\n"
                   "169|FONTAINE|38600\n544|VIENNE|38200\n563|VOIRON|38500"),
    "42": _c("42", "218|ST ETIENNE|42000\n187|ROANNE|42300\n095|FIRMINY|42700"),
    "63": _c("63", "113|CLERMONT FERRAND|63000\n300|RIOM|63200\n430|THIERS|63300"),
    "69": _c("69", "381|LYON|69001\n383|LYON|69003\n388|LYON|69008\n266|VILLEURBANNE|69100\n"
                   "259|VENISSIEUX|69200\n256|VAULX EN VELIN|69120\n091|GIVORS|69700\n199|ST FONS|69190"),
    "73": _c("73", "065|CHAMBERY|73000\n008|AIX LES BAINS|73100\n011|ALBERTVILLE|73200"),
    "74": _c("74", "010|ANNECY|74000\n012|ANNEMASSE|74100\n281|THONON LES BAINS|74200"),
    # Île-de-France
    "75": _c("75", "110|PARIS|75010\n111|PARIS|75011\n113|PARIS|75013\n114|PARIS|75014\n"
                   "118|PARIS|75018\n119|PARIS|75019\n120|PARIS|75020\n115|PARIS|75015"),
    "77": _c("77", "284|MEAUX|77100\n288|MELUN|77000\n083|CHAMPS SUR MARNE|77420\n373|PONTAULT COMBAULT|77340"),
    "78": _c("78", "440|LES MUREAUX|78130\n361|MANTES LA JOLIE|78200\n621|TRAPPES|78190\n646|VERSAILLES|78000"),
    "91": _c("91", "228|EVRY COURCOURONNES|91000\n286|GRIGNY|91350\n377|MASSY|91300\n223|ETAMPES|91150"),
    "92": _c("92", "050|NANTERRE|92000\n036|GENNEVILLIERS|92230\n025|COLOMBES|92700\n"
                   "007|BAGNEUX|92220\n044|LEVALLOIS PERRET|92300"),
    "93": _c("93", "066|ST DENIS|93200\n048|MONTREUIL|93100\n001|AUBERVILLIERS|93300\n"
                   "008|BOBIGNY|93000\n027|LA COURNEUVE|93120\n070|ST OUEN SUR SEINE|93400\n"
                   "071|SEVRAN|93270\n072|STAINS|93240\n029|DRANCY|93700"),
    "94": _c("94", "041|IVRY SUR SEINE|94200\n081|VITRY SUR SEINE|94400\n017|CHAMPIGNY SUR MARNE|94500\n"
                   "076|VILLEJUIF|94800\n033|FONTENAY SOUS BOIS|94120\n028|CRETEIL|94000"),
    "95": _c("95", "018|ARGENTEUIL|95100\n585|SARCELLES|95200\n268|GARGES LES GONESSE|95140\n127|CERGY|95000"),
    # Provence-Alpes-Côte d'Azur
    "04": _c("04", "070|DIGNE LES BAINS|04000\n112|MANOSQUE|04100\n209|SISTERON|04200"),
    "05": _c("05", "061|GAP|05000\n023|BRIANCON|05100"),
    "06": _c("06", "088|NICE|06000\n029|CANNES|06400\n004|ANTIBES|06600\n069|GRASSE|06130\n083|MENTON|06500"),
    "13": _c("13", "201|MARSEILLE|13001\n203|MARSEILLE|13003\n213|MARSEILLE|13013\n214|MARSEILLE|13014\n"
                   "215|MARSEILLE|13015\n001|AIX EN PROVENCE|13100\n004|ARLES|13200\n056|MARTIGUES|13500\n"
                   "117|VITROLLES|13127\n047|ISTRES|13800"),
    "83": _c("83", "137|TOULON|83000\n126|LA SEYNE SUR MER|83500\n069|HYERES|83400\n061|FREJUS|83600\n050|DRAGUIGNAN|83300"),
    "84": _c("84", "007|AVIGNON|84000\n031|CARPENTRAS|84200\n087|ORANGE|84100\n035|CAVAILLON|84300"),
    # Corse
    "2A": _c("2A", "004|AJACCIO|20000\n247|PORTO VECCHIO|20137\n272|SARTENE|20100"),
    "2B": _c("2B", "033|BASTIA|20200\n096|CORTE|20250\n050|CALVI|20260"),
    # Guadeloupe, La Réunion
    "9A": _c("9A", "101|LES ABYMES|97139\n120|POINTE A PITRE|97110\n105|BASSE TERRE|97100\n"
                   "113|LE GOSIER|97190\n118|PETIT BOURG|97170"),
    "9D": _c("9D", "411|ST DENIS|97400\n416|ST PIERRE|97410\n407|LE PORT|97420\n415|ST PAUL|97460\n"
                   "422|LE TAMPON|97430\n410|ST BENOIT|97470"),
}

# Préfecture of every other département (commune code, name, postal code).
_PREFECTURES = """
02|408|LAON|02000
08|105|CHARLEVILLE MEZIERES|08000
09|122|FOIX|09000
10|387|TROYES|10000
11|069|CARCASSONNE|11000
12|202|RODEZ|12000
14|118|CAEN|14000
15|014|AURILLAC|15000
16|015|ANGOULEME|16000
17|300|LA ROCHELLE|17000
18|033|BOURGES|18000
19|272|TULLE|19000
21|231|DIJON|21000
22|278|ST BRIEUC|22000
23|096|GUERET|23000
24|322|PERIGUEUX|24000
25|056|BESANCON|25000
27|229|EVREUX|27000
28|085|CHARTRES|28000
29|232|QUIMPER|29000
30|189|NIMES|30000
31|555|TOULOUSE|31000
32|013|AUCH|32000
33|063|BORDEAUX|33000
34|172|MONTPELLIER|34000
35|238|RENNES|35000
36|044|CHATEAUROUX|36000
37|261|TOURS|37000
39|300|LONS LE SAUNIER|39000
40|192|MONT DE MARSAN|40000
41|018|BLOIS|41000
43|157|LE PUY EN VELAY|43000
44|109|NANTES|44000
45|234|ORLEANS|45000
46|042|CAHORS|46000
47|001|AGEN|47000
48|095|MENDE|48000
49|007|ANGERS|49000
50|502|ST LO|50000
51|108|CHALONS EN CHAMPAGNE|51000
52|121|CHAUMONT|52000
53|130|LAVAL|53000
54|395|NANCY|54000
55|029|BAR LE DUC|55000
56|260|VANNES|56000
57|463|METZ|57000
58|194|NEVERS|58000
59|350|LILLE|59000
60|057|BEAUVAIS|60000
61|001|ALENCON|61000
62|041|ARRAS|62000
64|445|PAU|64000
65|440|TARBES|65000
66|136|PERPIGNAN|66000
67|482|STRASBOURG|67000
68|066|COLMAR|68000
70|550|VESOUL|70000
71|270|MACON|71000
72|181|LE MANS|72000
76|540|ROUEN|76000
79|191|NIORT|79000
80|021|AMIENS|80000
81|004|ALBI|81000
82|121|MONTAUBAN|82000
85|191|LA ROCHE SUR YON|85000
86|194|POITIERS|86000
87|085|LIMOGES|87000
88|160|EPINAL|88000
89|024|AUXERRE|89000
90|010|BELFORT|90000
9B|209|FORT DE FRANCE|97200
9C|302|CAYENNE|97300
9F|611|MAMOUDZOU|97600
9E|502|ST PIERRE|97500
9J|613|MATA UTU|98600
"""

OTHER_COMMUNES: dict[str, list[Commune]] = {}
for _line in _PREFECTURES.strip().split("\n"):
    _dep, _code, _name, _postal = _line.split("|")
    OTHER_COMMUNES[_dep] = [Commune(_dep, _code, _name, _postal)]


def _ascii_upper(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _read_package_csv(name: str) -> list[dict[str, str]]:
    text = (resources.files("observatoire") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def load_departements() -> dict[str, Departement]:
    """Every département of the COG plus 9E/9J, keyed by FINESS département code."""
    departements = {}
    for row in _read_package_csv("cog_departements_regions_2024.csv"):
        code = COG_TO_FINESS.get(row["code_departement"], row["code_departement"])
        departements[code] = Departement(code, _ascii_upper(row["nom_departement"]).replace("-", " "), row["code_region"])
    for code, label in EXTRA_DEPARTEMENTS.items():
        departements[code] = Departement(code, label, None)
    return dict(sorted(departements.items()))


def load_region_names() -> dict[str, str]:
    return {row["code_region"]: row["nom_region"] for row in _read_package_csv("cog_regions_2024.csv")}


def communes_for_noise(departement: str) -> list[Commune]:
    """Every commune an establishment other than a centre de santé may be placed in."""
    return CDS_COMMUNES.get(departement) or OTHER_COMMUNES[departement]


def communes_for_centres(departement: str) -> list[Commune]:
    """Communes for centres de santé: all but the last one of the département's list."""
    return CDS_COMMUNES[departement][:-1]


def commune_without_centre(departement: str) -> Commune:
    return CDS_COMMUNES[departement][-1]
