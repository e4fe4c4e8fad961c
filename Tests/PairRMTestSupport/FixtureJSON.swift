import Foundation

/// A fixture field that is missing or of the wrong type: the test fails with the file and the
/// field instead of crashing the test process on a forced cast.
public struct FixtureError: Error, CustomStringConvertible {
    public var file: String
    public var field: String
    public var expected: String
    public var description: String { "\(file): \"\(field)\" is missing or not \(expected); regenerate the fixture" }

    public init(file: String, field: String, expected: String) {
        self.file = file
        self.field = field
        self.expected = expected
    }
}

/// A JSON object of a fixture file, read with typed, throwing accessors.
public struct FixtureObject {
    public let values: [String: Any]
    public let file: String
    let path: String

    public init(values: [String: Any], file: String, path: String = "") {
        self.values = values
        self.file = file
        self.path = path
    }

    /// Reads a file holding one JSON object.
    public init(contentsOf url: URL) throws {
        guard let values = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
            throw FixtureError(file: url.path, field: "(root)", expected: "a JSON object")
        }
        self.init(values: values, file: url.path)
    }

    /// Parses JSON text holding one object (e.g. a line of output).
    public init(json text: String, name: String) throws {
        guard let values = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw FixtureError(file: name, field: "(root)", expected: "a JSON object")
        }
        self.init(values: values, file: name)
    }

    public func value<T>(_ key: String, _ expected: String, as type: T.Type = T.self) throws -> T {
        guard let value = values[key] as? T else { throw FixtureError(file: file, field: path + key, expected: expected) }
        return value
    }

    public func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }
    public func string(_ key: String) throws -> String { try value(key, "a string") }
    public func optionalString(_ key: String) -> String? { values[key] as? String }
    public func number(_ key: String) throws -> NSNumber { try value(key, "a number") }
    public func int(_ key: String) throws -> Int { try number(key).intValue }
    public func float(_ key: String) throws -> Float { try number(key).floatValue }
    public func double(_ key: String) throws -> Double { try number(key).doubleValue }
    public func bool(_ key: String) throws -> Bool { try value(key, "a boolean", as: NSNumber.self).boolValue }
    public func strings(_ key: String) throws -> [String] { try value(key, "an array of strings") }
    public func numbers(_ key: String) throws -> [NSNumber] { try value(key, "an array of numbers") }
    public func ints(_ key: String) throws -> [Int] { try numbers(key).map(\.intValue) }
    public func int32s(_ key: String) throws -> [Int32] { try numbers(key).map(\.int32Value) }
    public func floats(_ key: String) throws -> [Float] { try numbers(key).map(\.floatValue) }
    public func object(_ key: String) throws -> FixtureObject {
        FixtureObject(values: try value(key, "an object"), file: file, path: path + key + ".")
    }
    public func objects(_ key: String) throws -> [FixtureObject] {
        try value(key, "an array of objects", as: [[String: Any]].self).enumerated().map {
            FixtureObject(values: $0.element, file: file, path: path + "\(key)[\($0.offset)].")
        }
    }
}
