"""Getting datagrams in: the UDP socket (allow-list, raw forwarding) and capture files."""
