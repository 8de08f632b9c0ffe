"""The command line says which columns it reads as what (by label), which it leaves out,
warns when there is no email column, and says "Checking" on a dry run."""

from __future__ import annotations


def test_a_dry_run_lists_columns_read_and_left_out_and_warns_of_no_email(runner, db, tmp_path):
    path = tmp_path / "gens.csv"
    path.write_text("Prénom,Nom,Adresse,Ville\nAna,Silva,1 rue X,Lyon\n", encoding="utf-8")
    result = runner.invoke(args=["crm", "import", str(path), "--type", "contacts", "--dry-run"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "gens.csv: 1 row." in out
    assert "Columns read: Prénom → First name, Nom → Last name." in out
    assert "first_name" not in out and "last_name" not in out
    assert "Left out: Adresse, Ville." in out
    assert "Ville: The CRM keeps no city or town" in out
    assert "Warning: no column is read as Email, so the contacts get no email address" in out
    assert "Checking" in out
    assert "Importing" not in out
    assert "Dry run, nothing changed." in out


def test_an_import_with_every_column_read_says_importing_and_warns_of_nothing(runner, db, tmp_path):
    path = tmp_path / "gens.csv"
    path.write_text("Prénom,Courriel\nAna,ana@example.org\n", encoding="utf-8")
    result = runner.invoke(args=["crm", "import", str(path), "--type", "contacts"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Columns read: Prénom → First name, Courriel → Email." in out
    assert "Left out" not in out and "Warning" not in out
    assert "Importing" in out and "Checking" not in out
    assert "1 created" in out
