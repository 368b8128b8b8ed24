CREATE TABLE `generations` (
	`run_id` text NOT NULL,
	`gen` integer NOT NULL,
	`objectives` text NOT NULL,
	`fitness_mean` real,
	`fitness_median` real,
	`fitness_max` real,
	`best_ever_fitness` real,
	`champion_accuracy` real,
	`champion_connections` integer,
	`mean_connections` real NOT NULL,
	`mean_nodes` real NOT NULL,
	`evaluations` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch() * 1000) NOT NULL,
	PRIMARY KEY(`run_id`, `gen`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `runs` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`config` text NOT NULL,
	`seed` integer NOT NULL,
	`generation` integer DEFAULT 0 NOT NULL,
	`best_fitness` real,
	`champion_fitness` real,
	`champion_generation` integer,
	`champion_connections` integer,
	`champion_accuracy` text,
	`fork_of_run` text,
	`fork_of_generation` integer,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `runs_created_idx` ON `runs` (`created_at`,`id`);