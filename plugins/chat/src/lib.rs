//! UDP support-desk and room chat plugin (in progress: see the open issue).
