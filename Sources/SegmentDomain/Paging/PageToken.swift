import Foundation

/// Opaque page tokens: the sort key of the last item of a page, base64url-encoded.
public enum PageToken {
    /// Encodes the components of a sort key.
    public static func encode(_ components: [String]) -> String {
        let data = (try? JSONEncoder().encode(components)) ?? Data()
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Decodes a token; nil when it was not made by ``encode(_:)``.
    public static func decode(_ token: String) -> [String]? {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64) else { return nil }
        return try? JSONDecoder().decode([String].self, from: data)
    }

}
