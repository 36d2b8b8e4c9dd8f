"""Readers: calendars/*.toml, *.ues.csv and rosters into the model, with their validation; the one importer of `holidays`."""
