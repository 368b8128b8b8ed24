-- Uploaded datasets: the upload is in R2 under uploads/{id}/, the shards under datasets/{id}/ once
-- the queued build made them; `manifest` is the DatasetManifest (src/data/dataset.ts) when ready.
CREATE TABLE `datasets` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`options` text NOT NULL,
	`source_hash` text NOT NULL,
	`bytes` integer NOT NULL,
	`manifest` text,
	`error` text,
	`progress` real DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `datasets_name_unique` ON `datasets` (`name`);
--> statement-breakpoint
CREATE INDEX `datasets_source_hash_idx` ON `datasets` (`source_hash`);
