"""Server-rendered pages: the labeler's work screens and the admin screens."""
