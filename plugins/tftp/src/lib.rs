//! TFTP server plugin (RFC 1350, 2347, 2348, 2349, 7440) (in progress: see the open issue).
