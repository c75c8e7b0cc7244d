"""Bringing outside data in: parse.py reads the file formats into records (no database),
write.py writes the records to the database in one transaction."""
