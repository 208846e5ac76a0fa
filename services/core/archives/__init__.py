"""An author's work is never lost: book archives, restore, the trash and whole-install backups."""
