"""Call recordings: storage that survives crashes, checksums, and their catalogue."""
