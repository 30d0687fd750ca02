"""What the tests build their inputs with (warehouse loads, submission files); no test
lives here, and tests import these modules rather than each other."""
