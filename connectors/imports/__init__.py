"""File importers beyond touchpoints (`connectors.files`): offline conversions, erasure requests,
lift-test read-outs and exported ad reports read through a declared mapping. Each returns a
`FileImport`: good rows shaped as the raw table, a quarantine of rejected records with file, line, field and reason, and the files that
could not be read at all. See `core.py` for the rules every importer follows."""

from connectors.imports.ad_reports import (
    MappingError,
    ReportMapping,
    import_ad_report_file,
    import_ad_report_files,
    load_mapping,
    load_mappings,
)
from connectors.imports.core import FileImport, Locale, ReadOptions, drop_day, hash_emails
from connectors.imports.erasure_requests import import_erasure_request_file, import_erasure_request_files
from connectors.imports.lift_tests import import_lift_test_file, import_lift_test_files
from connectors.imports.offline_conversions import (
    import_offline_conversion_file,
    import_offline_conversion_files,
)

__all__ = [
    "FileImport",
    "Locale",
    "MappingError",
    "ReadOptions",
    "ReportMapping",
    "drop_day",
    "hash_emails",
    "import_ad_report_file",
    "import_ad_report_files",
    "import_erasure_request_file",
    "import_erasure_request_files",
    "import_lift_test_file",
    "import_lift_test_files",
    "import_offline_conversion_file",
    "import_offline_conversion_files",
    "load_mapping",
    "load_mappings",
]
