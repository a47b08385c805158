-- What went wrong with a recording, for people: why it failed, or what a recovery left out.
ALTER TABLE recordings ADD COLUMN problem TEXT;
