// placeholder: the dashboard's release view (issue 14)
