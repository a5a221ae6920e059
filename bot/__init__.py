"""kennel's Telegram bot: photos in, breeds out, through the same job queue as the API."""
