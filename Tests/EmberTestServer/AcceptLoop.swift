// Accepts connections on the listening socket until it closes, serving each in its own child task.

import NIOCore

enum AcceptLoop {
    static func run(listener: NIOAsyncChannel<HTTPConnection, Never>, state: ServerState) async {
        // A discarding group, so finished connections don't pile up as unconsumed child results.
        try? await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await ConnectionHandler(connection: connection, state: state).run() }
                }
            }
        }
    }
}
