"""Pieces every domain shares: the model base, access rules, audit trail, mail, pagination."""
