// Errors as OpenAI's API returns them: an HTTP status and `{"error": {"message", "type", "param",
// "code"}}`, with the message naming what was wrong and how to fix it.

import Foundation
import HTTPTypes
import Hummingbird

public struct APIError: Error, Equatable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    public let type: String
    public let param: String?
    public let code: String?
    /// Seconds a client should wait before trying again (busy server).
    public let retryAfter: Int?

    public var description: String { message }

    public static func badRequest(_ message: String, param: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: nil, retryAfter: nil)
    }

    public static func unknownModel(_ name: String, served: String) -> APIError {
        APIError(status: .notFound, message: "The model '\(name)' does not exist: this server runs '\(served)' (GET /v1/models)",
                 type: "invalid_request_error", param: "model", code: "model_not_found", retryAfter: nil)
    }

    public static let unauthorized = APIError(
        status: .unauthorized, message: "Incorrect or missing API key: send it as 'Authorization: Bearer KEY' (ember serve --api-key)",
        type: "invalid_request_error", param: nil, code: "invalid_api_key", retryAfter: nil)

    public static func busy(_ message: String) -> APIError {
        APIError(status: .serviceUnavailable, message: message, type: "server_error", param: nil, code: "server_busy", retryAfter: 1)
    }

    public static func server(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", param: nil, code: nil, retryAfter: nil)
    }

    /// The request ran out of time: its own `timeout` (`byRequest`) or the server's `--timeout`.
    public static func timeout(_ seconds: Double, byRequest: Bool) -> APIError {
        APIError(status: .gatewayTimeout,
                 message: "The request took longer than its limit of \(seconds) s (" + (byRequest ? "its 'timeout' field)" : "ember serve --timeout)"),
                 type: "server_error", param: byRequest ? "timeout" : nil, code: "timeout", retryAfter: nil)
    }

    /// The error object, as in a response body or a server-sent event.
    var body: JSONValue {
        ["error": ["message": .string(message), "type": .string(type), "param": .optional(param.map(JSONValue.string)),
                   "code": .optional(code.map(JSONValue.string))]]
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[HTTPField.Name("Retry-After")!] = "\(retryAfter)" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body.bytes)))
    }
}
