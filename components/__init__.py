"""One Pulumi ComponentResource per deployable system, plus the small pieces they share."""
