"""What do the workbooks look like on paper? Renders every .xlsx of a folder to PNG pages
with LibreOffice headless and pdftoppm (Debian packages `libreoffice-calc-nogui` and
`poppler-utils`), so that a person can look at what the ARS staff will print.

    python deploy/render_workbooks.py rapports/2024 --out /tmp/rendu [--dpi 80]

One `<workbook>-<page>.png` per printed page in --out; prints the pages it wrote.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def render(workbook: Path, out: Path, dpi: int = 80) -> list[Path]:
    """The PNG pages of one workbook, as LibreOffice prints it (its print setup applies)."""
    with tempfile.TemporaryDirectory() as work:
        # a profile of its own: a LibreOffice already open elsewhere would take the job
        profile = Path(work) / "profile"
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                        "--outdir", work, str(workbook)], check=True, capture_output=True, timeout=300)
        pdf = Path(work) / f"{workbook.stem}.pdf"
        out.mkdir(parents=True, exist_ok=True)
        prefix = out / workbook.stem
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True, timeout=300)
    return sorted(out.glob(f"{workbook.stem}-*.png"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rendre les classeurs d'un dossier en images PNG (une par page).")
    parser.add_argument("folder", type=Path, help="dossier des classeurs (.xlsx), par exemple rapports/2024")
    parser.add_argument("--out", type=Path, required=True, help="dossier des images")
    parser.add_argument("--dpi", type=int, default=80, help="résolution des images (défaut : 80)")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("soffice", "pdftoppm") if shutil.which(tool) is None]
    if missing:
        print(f"render_workbooks : {', '.join(missing)} absent(s) : apt-get install libreoffice-calc-nogui "
              "poppler-utils", file=sys.stderr)
        return 2
    for workbook in sorted(args.folder.glob("*.xlsx")):
        for page in render(workbook, args.out, args.dpi):
            print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
