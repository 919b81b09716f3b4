"""Results ledgers: what a results folder holds so that its study outlives the machine that
trained it (records.py: the format; seeding.py: resuming a study from ledgers)."""
