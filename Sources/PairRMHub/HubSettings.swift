import Foundation
import PairRMFormat
import PairRMStore

/// How to talk to the hub, read from the environment the way huggingface_hub reads it.
public struct HubSettings: Sendable {
    /// $HF_ENDPOINT, else https://huggingface.co (no trailing slash).
    public var endpoint: String
    /// $HF_TOKEN (or $HUGGING_FACE_HUB_TOKEN), else the token file ($HF_TOKEN_PATH, else $HF_HOME/token).
    public var token: String?
    /// HF_HUB_OFFLINE: never open a connection.
    public var offline: Bool
    /// A proxy from $HTTPS_PROXY / $HTTP_PROXY / $ALL_PROXY (either case), unless $NO_PROXY names the endpoint's host.
    public var proxy: ProxySetting?
    /// Attempts per request when the server answers 5xx or 429, or the connection breaks.
    public var attempts = 4
    /// Seconds to wait for a connection (the client keeps trying within it).
    public var connectTimeout = 10.0
    /// Seconds without a byte before a transfer counts as broken (and is resumed).
    public var readTimeout = 60.0
    /// Seconds before the second attempt; doubled for each further one.
    public var retryDelay = 0.5
    public var userAgent = "pairrm-swift/\(PairRMVersion.string)"

    public struct ProxySetting: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?

        public init(host: String, port: Int, username: String? = nil, password: String? = nil) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
        }
    }

    public init(environment: StoreEnvironment = StoreEnvironment()) {
        var endpoint = environment["HF_ENDPOINT"] ?? "https://huggingface.co"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        offline = environment.offline
        if let token = environment["HF_TOKEN"] ?? environment["HUGGING_FACE_HUB_TOKEN"] {
            self.token = token
        } else {
            let file = environment["HF_TOKEN_PATH"].map(environment.expandingTilde) ?? environment.huggingFaceHome + "/token"
            let text = FileManager.default.contents(atPath: file).flatMap { String(data: $0, encoding: .utf8) }
            let trimmed = text?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            token = trimmed.isEmpty ? nil : trimmed
        }
        proxy = HubSettings.proxy(for: endpoint, environment: environment)
    }

    static func proxy(for endpoint: String, environment: StoreEnvironment) -> ProxySetting? {
        guard let url = URL(string: endpoint), let host = url.host else { return nil }
        let noProxy = environment["NO_PROXY"] ?? environment["no_proxy"] ?? ""
        for entry in noProxy.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let suffix = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            if entry == "*" || host == suffix || host.hasSuffix("." + suffix) { return nil }
        }
        let names = url.scheme == "https" ? ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
                                          : ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        guard let text = names.lazy.compactMap({ environment[$0] }).first else { return nil }
        let withScheme = text.contains("://") ? text : "http://" + text
        guard let proxyURL = URL(string: withScheme), let proxyHost = proxyURL.host else { return nil }
        return ProxySetting(host: proxyHost, port: proxyURL.port ?? 80, username: proxyURL.user, password: proxyURL.password)
    }
}
