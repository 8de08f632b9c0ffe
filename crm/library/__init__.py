"""The community-of-practice library: case studies of worker-engagement technology."""
