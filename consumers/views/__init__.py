"""The synchronized views: pure projections from accepted events to view documents."""
