ALTER TABLE `generations` ADD `shard` integer;--> statement-breakpoint
ALTER TABLE `generations` ADD `champion` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `champion_index` integer;