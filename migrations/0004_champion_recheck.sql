ALTER TABLE `generations` ADD `test_accuracy` real;--> statement-breakpoint
ALTER TABLE `runs` ADD `champion_chosen_by` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `champion_rechecked_fitness` real;
