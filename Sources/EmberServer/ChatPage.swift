// The chat page a browser gets at `/` (Resources/chat.html: one file with its script and styles,
// embedded in the binary, so it works offline and wherever the binary is copied), and `/props`, the
// facts it shows: the model's name, its context size and the server's slots (llama-server's route).

import Hummingbird

extension OpenAIServer {
    static let chatPage = ByteBuffer(bytes: PackageResources.chat_html)

    func chatPageResponse() -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                 body: ResponseBody(byteBuffer: Self.chatPage))
    }

    var properties: JSONValue {
        let configuration = model.scheduler.configuration
        return ["model": .string(model.name), "n_ctx": .number(Double(configuration.contextLength)),
                "total_slots": .number(Double(configuration.parallel))]
    }
}
