/// A pickle reader that executes no code. It is a stack machine over exactly the opcodes
/// `torch.save` emits for a state dict (protocol 2, plus the protocol-4 framing opcodes), and
/// "calls" only a whitelist of globals that it implements itself: `collections.OrderedDict`,
/// `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`. Storage classes and
/// dtypes are whitelisted as inert values. Any other global is refused before anything is
/// built from it, so a malicious checkpoint cannot run code here.
///
/// What torch 2.x writes (checked against torch 2.15's output, see Tests/Fixtures/torch):
///   OrderedDict() ; MARK name _rebuild_tensor_v2((persid, offset, size, stride, requires_grad,
///   OrderedDict())) ... SETITEMS ; optional BUILD with `{"_metadata": ...}` ; STOP
/// with the persistent id `('storage', torch.FloatStorage, '<key>', 'cpu', <numel>)`.
struct RestrictedUnpickler {
    /// Bounds that no real state dict approaches (PairRM: ~4k memo entries, stack < 2k)
    /// but that keep hostile input from exhausting memory or the native stack.
    static let maxStack = 1 << 20
    static let maxMemo = 1 << 22
    /// Nesting of containers. Values are freed recursively, so unbounded nesting could
    /// overflow the native stack on deallocation.
    static let maxDepth = 64
    static let maxGlobalLine = 256

    private let bytes: UnsafeRawBufferPointer
    private let file: String
    private let member: String
    private var position = 0
    private var opcodeStart = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    /// - Parameters: `member` names the archive member (e.g. "archive/data.pkl") in errors.
    init(bytes: UnsafeRawBufferPointer, file: String, member: String) {
        self.bytes = bytes
        self.file = file
        self.member = member
    }

    /// Runs the program to STOP and returns the top of the stack.
    mutating func load() throws -> PickleValue {
        while position < bytes.count {
            opcodeStart = position
            let opcode = bytes[position]
            position += 1
            switch opcode {
            case 0x80: // PROTO
                let version = try readByte()
                guard version <= 5 else { throw malformed("unsupported pickle protocol \(version)") }
            case 0x95: // FRAME: a length prefix used only for buffered reading
                _ = try take(8)
            case 0x7D: try push(.dict(PickleDict()))            // EMPTY_DICT
            case 0x5D: try push(.list(PickleList()))            // EMPTY_LIST
            case 0x29: try push(.tuple([], depth: 1))          // EMPTY_TUPLE
            case 0x28: // MARK
                guard marks.count < Self.maxStack else { throw malformed("too many MARKs") }
                marks.append(stack.count)
            case 0x71: try memoize(at: Int(try readByte()))                 // BINPUT
            case 0x72: try memoize(at: Int(try readUInt32()))               // LONG_BINPUT
            case 0x94: try memoize(at: memo.count)                          // MEMOIZE
            case 0x68: try recall(Int(try readByte()))                      // BINGET
            case 0x6A: try recall(Int(try readUInt32()))                    // LONG_BINGET
            case 0x58: try push(.string(try readString(length: Int(try readUInt32()))))  // BINUNICODE
            case 0x8C: try push(.string(try readString(length: Int(try readByte()))))    // SHORT_BINUNICODE
            case 0x8D: // BINUNICODE8
                let raw = try take(8).loadUnaligned(as: UInt64.self)
                guard let length = Int(exactly: UInt64(littleEndian: raw)) else { throw truncated() }
                try push(.string(try readString(length: length)))
            case 0x4A: // BININT: signed 32-bit
                try push(.int(Int(Int32(bitPattern: try readUInt32()))))
            case 0x4B: try push(.int(Int(try readByte())))                 // BININT1
            case 0x4D: // BININT2
                try push(.int(Int(UInt16(littleEndian: try take(2).loadUnaligned(as: UInt16.self)))))
            case 0x8A: try push(.int(try readLong1()))                     // LONG1
            case 0x88: try push(.bool(true))                               // NEWTRUE
            case 0x89: try push(.bool(false))                              // NEWFALSE
            case 0x4E: try push(.none)                                     // NONE
            case 0x47: // BINFLOAT: big-endian double
                let raw = try take(8).loadUnaligned(as: UInt64.self)
                try push(.float(Double(bitPattern: UInt64(bigEndian: raw))))
            case 0x74: try push(try makeTuple(try popToMark()))            // TUPLE
            case 0x85: try push(try makeTuple(try pop(1)))                 // TUPLE1
            case 0x86: try push(try makeTuple(try pop(2)))                 // TUPLE2
            case 0x87: try push(try makeTuple(try pop(3)))                 // TUPLE3
            case 0x63: // GLOBAL "module\nname\n"
                let module = try readLine()
                let name = try readLine()
                try push(.global(try whitelisted(module: module, name: name)))
            case 0x93: // STACK_GLOBAL
                let parts = try pop(2)
                guard case .string(let module) = parts[0], case .string(let name) = parts[1] else {
                    throw malformed("STACK_GLOBAL needs two strings")
                }
                try push(.global(try whitelisted(module: module, name: name)))
            case 0x52: // REDUCE
                let parts = try pop(2)
                try push(try reduce(callable: parts[0], arguments: parts[1]))
            case 0x62: // BUILD
                // The state is the OrderedDict's attributes (the `_metadata` version table):
                // not needed for the weights, so it is dropped.
                _ = try pop(1)
                let target = try top()
                guard case .dict = target else {
                    throw malformed("BUILD on a \(target.kind); torch.save only sets state on the state dict")
                }
            case 0x73: // SETITEM
                let pair = try pop(2)
                try insert(into: try top(), items: pair)
            case 0x75: // SETITEMS
                let items = try popToMark()
                guard items.count % 2 == 0 else { throw malformed("SETITEMS with an odd number of items") }
                try insert(into: try top(), items: items)
            case 0x61: // APPEND
                let item = try pop(1)
                try append(to: try top(), items: item)
            case 0x65: // APPENDS
                let items = try popToMark()
                try append(to: try top(), items: items)
            case 0x51: // BINPERSID
                let pid = try pop(1)[0]
                try push(.storage(try storageReference(pid)))
            case 0x2E: // STOP
                return try top()
            default:
                throw unsupported(opcode)
            }
        }
        throw truncated()
    }

    // MARK: - Stack and memo

    private mutating func push(_ value: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw malformed("the stack exceeds \(Self.maxStack) entries") }
        stack.append(value)
    }

    private func top() throws -> PickleValue {
        guard let value = stack.last, (marks.last ?? 0) < stack.count else {
            throw malformed("the stack is empty")
        }
        return value
    }

    /// Pops `count` values above the innermost mark, in push order.
    private mutating func pop(_ count: Int) throws -> [PickleValue] {
        let floor = marks.last ?? 0
        guard stack.count - floor >= count else { throw malformed("stack underflow") }
        let values = Array(stack[(stack.count - count)...])
        stack.removeLast(count)
        return values
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw malformed("no MARK to pop to") }
        let values = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return values
    }

    private mutating func memoize(at index: Int) throws {
        let value = try top()
        guard memo[index] != nil || memo.count < Self.maxMemo else {
            throw malformed("the memo exceeds \(Self.maxMemo) entries")
        }
        memo[index] = value
    }

    private mutating func recall(_ index: Int) throws {
        guard let value = memo[index] else { throw malformed("memo entry \(index) is read before it is written") }
        try push(value)
    }

    // MARK: - Containers

    private func makeTuple(_ items: [PickleValue]) throws -> PickleValue {
        var depth = 0
        for item in items {
            depth = max(depth, item.depth)
            item.markNested()
        }
        guard depth < Self.maxDepth else { throw malformed("containers nest deeper than \(Self.maxDepth)") }
        return .tuple(items, depth: depth + 1)
    }

    /// Containers are filled before they are placed inside another one (that is how
    /// pickle writes them), so a container that is already nested is never mutated; refusing
    /// that keeps the depth bound exact and makes reference cycles impossible.
    private func checkMutable(_ container: PickleContainer, adding items: [PickleValue]) throws {
        guard !container.isNested else { throw malformed("a container is modified after being nested") }
        for item in items {
            if let child = item.container, child === container {
                throw malformed("a container is inserted into itself")
            }
            guard item.depth + 1 < Self.maxDepth else {
                throw malformed("containers nest deeper than \(Self.maxDepth)")
            }
        }
    }

    private func insert(into target: PickleValue, items: [PickleValue]) throws {
        guard case .dict(let dict) = target else { throw malformed("SETITEM(S) on a \(target.kind)") }
        try checkMutable(dict, adding: items)
        var index = 0
        while index + 1 < items.count {
            guard let key = PickleKey(items[index]) else {
                throw malformed("a dict key is a \(items[index].kind); only strings and integers are accepted")
            }
            items[index + 1].markNested()
            dict.set(key, items[index + 1])
            index += 2
        }
    }

    private func append(to target: PickleValue, items: [PickleValue]) throws {
        guard case .list(let list) = target else { throw malformed("APPEND(S) on a \(target.kind)") }
        try checkMutable(list, adding: items)
        for item in items {
            item.markNested()
            list.items.append(item)
            list.depth = max(list.depth, item.depth + 1)
        }
    }

    // MARK: - Globals and calls

    private func whitelisted(module: String, name: String) throws -> PickleGlobal {
        if let global = PickleGlobal(module: module, name: name) { return global }
        throw ConversionError(.unsafePickle, file: file, field: "\(member) byte \(opcodeStart)",
                              problem: "the pickle references \(module).\(name), which is not on the whitelist of a plain state dict",
                              fix: "load the checkpoint in trusted Python, save model.state_dict() with safetensors.torch.save_file, and convert that")
    }

    private func reduce(callable: PickleValue, arguments: PickleValue) throws -> PickleValue {
        guard case .global(let global) = callable else { throw malformed("REDUCE on a \(callable.kind)") }
        guard case .tuple(let args, _) = arguments else { throw malformed("REDUCE arguments are a \(arguments.kind), not a tuple") }
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw malformed("OrderedDict is called with arguments") }
            return .dict(PickleDict())
        case .rebuildTensorV2:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count == 6 || args.count == 7 else {
                throw malformed("_rebuild_tensor_v2 takes 6 or 7 arguments, got \(args.count)")
            }
            guard case .storage(let storage) = args[0] else {
                throw malformed("_rebuild_tensor_v2's storage is a \(args[0].kind)")
            }
            guard case .int(let offset) = args[1] else { throw malformed("_rebuild_tensor_v2's storage_offset is a \(args[1].kind)") }
            guard let size = args[2].intTuple else { throw malformed("_rebuild_tensor_v2's size is not a tuple of integers") }
            guard let stride = args[3].intTuple else { throw malformed("_rebuild_tensor_v2's stride is not a tuple of integers") }
            return .tensor(PickleTensor(storage: storage, storageOffset: offset, size: size, stride: stride))
        case .rebuildParameter:
            // (data, requires_grad, backward_hooks): a Parameter is its tensor for our purposes.
            guard args.count == 3, case .tensor = args[0] else {
                throw malformed("_rebuild_parameter expects (tensor, requires_grad, backward_hooks)")
            }
            return args[0]
        case .storageType(let name, _), .dtype(let name, _):
            throw ConversionError(.unsafePickle, file: file, field: "\(member) byte \(opcodeStart)",
                                  problem: "the pickle calls torch.\(name), which torch.save never does",
                                  fix: "load the checkpoint in trusted Python, save model.state_dict() with safetensors.torch.save_file, and convert that")
        }
    }

    /// `('storage', <storage class>, key, location, numel)`.
    private func storageReference(_ pid: PickleValue) throws -> PickleStorage {
        guard case .tuple(let items, _) = pid, items.count == 5,
              case .string("storage") = items[0],
              case .global(.storageType(let typeName, let dtype)) = items[1],
              case .string(let key) = items[2],
              case .string(let location) = items[3],
              case .int(let numel) = items[4], numel >= 0 else {
            throw malformed("a persistent id is not ('storage', <storage type>, key, location, numel)")
        }
        return PickleStorage(key: key, typeName: typeName, dtype: dtype, location: location, elementCount: numel)
    }

    // MARK: - Reading operands

    private mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else { throw truncated() }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
        position += count
        return slice
    }

    private mutating func readByte() throws -> UInt8 {
        try take(1)[0]
    }

    private mutating func readUInt32() throws -> UInt32 {
        UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self))
    }

    private mutating func readString(length: Int) throws -> String {
        let raw = try take(length)
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw malformed("a string is not valid UTF-8")
        }
        return string
    }

    /// LONG1: n-byte little-endian two's complement. Tensor sizes fit in 8 bytes.
    private mutating func readLong1() throws -> Int {
        let count = Int(try readByte())
        let raw = try take(count)
        guard count <= 8 else { throw malformed("a LONG1 integer of \(count) bytes does not fit in 64 bits") }
        guard count > 0 else { return 0 }
        var value: UInt64 = 0
        for (shift, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        // Sign-extend from the top byte.
        if count < 8, raw[count - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(count)) }
        return Int(Int64(bitPattern: value))
    }

    /// GLOBAL operands: ASCII lines ending in "\n".
    private mutating func readLine() throws -> String {
        let start = position
        while position < bytes.count, bytes[position] != 0x0A {
            position += 1
            guard position - start <= Self.maxGlobalLine else { throw malformed("a GLOBAL name is longer than \(Self.maxGlobalLine) bytes") }
        }
        guard position < bytes.count else { throw truncated() }
        let line = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
        position += 1
        guard let string = String(validating: line, as: UTF8.self) else { throw malformed("a GLOBAL name is not valid UTF-8") }
        return string
    }

    // MARK: - Errors

    private func malformed(_ problem: String) -> ConversionError {
        ConversionError(.malformedTorchCheckpoint, file: file, field: "\(member) byte \(opcodeStart)", problem: problem,
                        fix: "the checkpoint is corrupt or not a torch.save state dict; re-save it with torch.save(model.state_dict(), path) or convert it to safetensors")
    }

    private func truncated() -> ConversionError {
        ConversionError(.malformedTorchCheckpoint, file: file, field: "\(member) byte \(opcodeStart)",
                        problem: "the pickle ends before its STOP opcode", fix: "the checkpoint is truncated; download or re-save it")
    }

    private func unsupported(_ opcode: UInt8) -> ConversionError {
        let name = Self.opcodeNames[opcode].map { " (\($0))" } ?? ""
        let hex = "0x" + String(opcode, radix: 16, uppercase: true)
        // Opcodes that build arbitrary objects are a safety refusal; the rest are merely unexpected.
        if Self.codeRunningOpcodes.contains(opcode) {
            return ConversionError(.unsafePickle, file: file, field: "\(member) byte \(opcodeStart)",
                                   problem: "pickle opcode \(hex)\(name) constructs arbitrary objects and is refused",
                                   fix: "load the checkpoint in trusted Python, save model.state_dict() with safetensors.torch.save_file, and convert that")
        }
        return ConversionError(.malformedTorchCheckpoint, file: file, field: "\(member) byte \(opcodeStart)",
                               problem: "pickle opcode \(hex)\(name) is not one torch.save emits for a state dict",
                               fix: "re-save with torch.save(model.state_dict(), path) or convert the checkpoint to safetensors")
    }

    private static let codeRunningOpcodes: Set<UInt8> = [0x69, 0x6F, 0x81, 0x92, 0x82, 0x83, 0x84, 0x50]

    /// Names of the pickle opcodes we do not run, for error messages (Python `pickletools`).
    private static let opcodeNames: [UInt8: String] = [
        0x49: "INT", 0x4C: "LONG", 0x46: "FLOAT", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
        0x56: "UNICODE", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8E: "BINBYTES8", 0x96: "BYTEARRAY8",
        0x8B: "LONG4", 0x64: "DICT", 0x6C: "LIST", 0x70: "PUT", 0x67: "GET", 0x30: "POP", 0x31: "POP_MARK",
        0x32: "DUP", 0x69: "INST", 0x6F: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2",
        0x84: "EXT4", 0x50: "PERSID", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
        0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]
}

// MARK: - Values

/// Everything the restricted unpickler can build.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple([PickleValue], depth: Int)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(PickleStorage)
    case tensor(PickleTensor)

    var depth: Int {
        switch self {
        case .tuple(_, let depth): depth
        case .list(let list): list.depth
        case .dict(let dict): dict.depth
        default: 0
        }
    }

    var container: PickleContainer? {
        switch self {
        case .list(let list): list
        case .dict(let dict): dict
        default: nil
        }
    }

    func markNested() {
        container?.isNested = true
    }

    var intTuple: [Int]? {
        guard case .tuple(let items, _) = self else { return nil }
        var result: [Int] = []
        for item in items {
            guard case .int(let value) = item else { return nil }
            result.append(value)
        }
        return result
    }

    /// For error messages.
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global(let global): "global \(global.qualifiedName)"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// Lists and dicts are mutable and shared through the memo, so they are reference types.
class PickleContainer {
    var depth = 1
    var isNested = false
}

final class PickleList: PickleContainer {
    var items: [PickleValue] = []
}

/// Insertion-ordered like Python's dict; re-setting a key keeps its position.
final class PickleDict: PickleContainer {
    private(set) var keys: [PickleKey] = []
    private(set) var values: [PickleValue] = []
    private var positions: [PickleKey: Int] = [:]

    func set(_ key: PickleKey, _ value: PickleValue) {
        if let position = positions[key] {
            values[position] = value
        } else {
            positions[key] = keys.count
            keys.append(key)
            values.append(value)
        }
        depth = max(depth, value.depth + 1)
    }
}

enum PickleKey: Hashable {
    case string(String)
    case int(Int)

    init?(_ value: PickleValue) {
        switch value {
        case .string(let string): self = .string(string)
        case .int(let int): self = .int(int)
        default: return nil
        }
    }
}

/// The whitelist. Storage types and dtypes are values only; the three callables are
/// implemented by the unpickler itself.
enum PickleGlobal {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    /// A typed storage class such as torch.FloatStorage; `dtype` nil for types we cannot convert.
    case storageType(name: String, dtype: SourceDType?)
    case dtype(name: String, dtype: SourceDType?)

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", _) where Self.storageDTypes[name] != nil:
            self = .storageType(name: name, dtype: Self.sourceDType(Self.storageDTypes[name] ?? ""))
        case ("torch.storage", "UntypedStorage"):
            self = .storageType(name: name, dtype: nil)
        case ("torch", _) where Self.dtypeNames.contains(name):
            self = .dtype(name: name, dtype: Self.sourceDType(name))
        default: return nil
        }
    }

    var qualifiedName: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .storageType(let name, _), .dtype(let name, _): "torch.\(name)"
        }
    }

    /// torch's legacy typed-storage class names → the element dtype, as torch names it.
    static let storageDTypes: [String: String] = [
        "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
        "DoubleStorage": "float64", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
        "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
        "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
        "UntypedStorage": "uint8 (untyped)",
    ]
    static let dtypeNames: Set<String> = [
        "float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool",
    ]

    static func sourceDType(_ torchName: String) -> SourceDType? {
        switch torchName {
        case "float32": .f32
        case "float16": .f16
        case "bfloat16": .bf16
        default: nil
        }
    }
}

/// A storage blob `<prefix>/data/<key>` as named by a persistent id.
struct PickleStorage {
    var key: String
    var typeName: String
    var dtype: SourceDType?
    var location: String
    var elementCount: Int

    /// torch's dtype name, for errors ("int64").
    var torchDTypeName: String { PickleGlobal.storageDTypes[typeName] ?? typeName }
}

/// The arguments of `_rebuild_tensor_v2`, validated by `TorchCheckpoint` once its name is known.
struct PickleTensor {
    var storage: PickleStorage
    var storageOffset: Int
    var size: [Int]
    var stride: [Int]
}
