"""What a person reads, built once on the server and sent to the page: the page's scripts draw, they do not word."""
