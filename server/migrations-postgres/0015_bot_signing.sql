-- A bot's signing secret: each POST to its address carries an HMAC-SHA256 of
-- its time and body under this secret (X-Chat-Signature), so the bot's end can
-- tell the chat's POSTs from anyone's. Made when the bot first gets an
-- address; shown to its owner on the account page.

ALTER TABLE accounts ADD COLUMN bot_secret TEXT;
