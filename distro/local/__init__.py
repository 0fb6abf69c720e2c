"""The local harness: DynamoDB Local, the synthetic dataset, the demo."""
