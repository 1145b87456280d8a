// A command that cannot go on, for a reason outside its arguments' syntax: a request beyond what the
// machine or the model can take, a file that is not a model, a server that cannot listen. It ends
// with one line and exit status 1, without ArgumentParser's usage text (which is for arguments that
// do not parse: exit status 64).

struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
