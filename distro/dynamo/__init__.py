"""DynamoDB plumbing: the client and its retries, readers, the lean Query path, pacing, batch writes."""
