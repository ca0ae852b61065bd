// Tests compare process-wide native counters (live loops, capabilities, pending operations) and
// GC-handle counts before and after: they run one at a time so no other test's objects are counted.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
