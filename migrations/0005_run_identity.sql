-- Run identity (name, tags, notes): set at start, editable by the owner (PATCH /api/runs/:id).
-- Tags are a JSON array of lower-case strings; runs created before this migration get the defaults.
ALTER TABLE `runs` ADD `name` text DEFAULT '' NOT NULL;
--> statement-breakpoint
ALTER TABLE `runs` ADD `tags` text DEFAULT '[]' NOT NULL;
--> statement-breakpoint
ALTER TABLE `runs` ADD `notes` text DEFAULT '' NOT NULL;
--> statement-breakpoint
CREATE INDEX `runs_status_idx` ON `runs` (`status`, `created_at`, `id`);
