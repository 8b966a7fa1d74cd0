"""Jobs that talk to Label Studio and storage: pull annotations, run the audits from
``analysis``, push findings and reviewer queues back, and export versioned data sets."""
