CREATE TABLE `models` (
	`run_id` text NOT NULL,
	`version` integer NOT NULL,
	`generation` integer NOT NULL,
	`onnx_key` text NOT NULL,
	`genome_key` text NOT NULL,
	`weights` text NOT NULL,
	`test_accuracy` text NOT NULL,
	`mean_test_accuracy` real NOT NULL,
	`ensemble_test_accuracy` real NOT NULL,
	`tuned_weight` real NOT NULL,
	`tuned_test_accuracy` real NOT NULL,
	`connections` integer NOT NULL,
	`hidden_nodes` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`run_id`, `version`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `share_links` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`token_hash` text NOT NULL,
	`scope` text NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `share_links_token_hash_unique` ON `share_links` (`token_hash`);--> statement-breakpoint
CREATE INDEX `share_links_run_idx` ON `share_links` (`run_id`);