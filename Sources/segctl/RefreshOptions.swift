import ArgumentParser

/// `--refresh` and `--wait` on the commands that change a segment's definition
/// (create, update, rollback), so the members can follow the change at once
/// instead of staying stale until the schedule comes round.
struct RefreshOptions: ParsableArguments {
    @Flag(
        name: .customLong("refresh"),
        help: "Refresh the segment right after the change (in the same transaction; joins a refresh already queued). Needs segments.refresh."
    )
    var refresh = false
    @Flag(
        name: .customLong("wait"),
        help: "Refresh (implies --refresh), follow the refresh to the end with progress on stderr, then show the segment; exit 1 unless it succeeded."
    )
    var wait = false

    /// Whether the change should start a refresh (`--wait` implies `--refresh`).
    var requested: Bool { refresh || wait }
}
