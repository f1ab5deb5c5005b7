// placeholder: replaced by the figures implementation
