-- Trained weights: a model version is either the searched network at shared weights ('shared') or
-- that topology with per-connection weights trained by gradient descent ('trained', trained_from =
-- the shared version). Rows published before this migration are shared.
ALTER TABLE `models` ADD `variant` text DEFAULT 'shared' NOT NULL;
--> statement-breakpoint
ALTER TABLE `models` ADD `trained_from` integer;
--> statement-breakpoint
-- One training per shared version: its progress (`step` advances by compare-and-set, so a duplicate
-- queue message cannot apply a chunk twice), its hyperparameters, and the trained version once done.
-- The state itself (weights and Adam's moments) is in R2 under models/{run}/{version}/training/.
CREATE TABLE `trainings` (
	`run_id` text NOT NULL,
	`version` integer NOT NULL,
	`status` text NOT NULL,
	`step` integer DEFAULT 0 NOT NULL,
	`steps` integer NOT NULL,
	`steps_per_invocation` integer NOT NULL,
	`loss` real,
	`seed` integer NOT NULL,
	`batch_size` integer NOT NULL,
	`learning_rate` real NOT NULL,
	`shared_weight` real NOT NULL,
	`train_shards` integer NOT NULL,
	`trained_version` integer,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`run_id`, `version`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
