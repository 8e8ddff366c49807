// placeholder: filled in later in this issue
