CREATE TABLE `owner_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE INDEX `owner_sessions_expires_idx` ON `owner_sessions` (`expires_at`);