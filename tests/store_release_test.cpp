// placeholder: filled in by the release-control work (issue 14)
