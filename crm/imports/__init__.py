"""Importing CSV and XLSX files: upload → map columns → preview → import → undo.

- `operations`: the steps a page, the worker and `flask crm import` share; `uploads`: where an
  upload's bytes are kept; `jobs`: a large file imported by the worker; `queries`: the runs and
  where each is;
- `table_reader`: reading the file; `workbook_limits`: an XLSX's ZIP checked before it is
  unpacked (decompression bombs); `column_mapping`: which column is which field;
  `cell_values`: a cell as a value, by the forms' rules; `rows`: a row on its way through;
- `running`: a whole file, a chunk at a time, through the record type's importer
  (`importers/`); `undo`: taking a run back; `audit_trail`: what a run writes on the records'
  history; `phrases`: counts and lists as the pages say them.
"""
