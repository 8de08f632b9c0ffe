"""The importers, one per record type a file can hold (`crm.imports.running.IMPORTERS` says
which reads which). Contacts and organizations are written in bulk (a hundred thousand rows a
file, `base.BulkImporter`); event participants, endorsements and pledges go a row at a time
through their domain's own operation (`base.RowByRowImporter`).
"""
