import PairRM
/// What a JSONL line asks for (one `pairrm` subcommand).
public enum LineTask: Sendable, Equatable {
    /// `{"prompt","a","b"}` (+ `"instruction"`) → `{"logit","a_better"}`.
    case compare(mode: CompareMode)
    /// `{"prompt","candidates"}` → `{"scores","ranks"}` (`scores` is null for merge sort).
    case rank(strategy: RankStrategy)
    /// `{"prompt","candidates"}` (+ `"reference"`) → `{"scores","ranks","reference"}`.
    case rankWithReference(mode: ReferenceMode)
    /// `{"prompt","candidates"}` → `{"best","index"}` (worst: `{"worst","index"}`), plus
    /// `"order"` with `returnAll`.
    case select(strategy: SelectionStrategy, worst: Bool, returnAll: Bool)
    /// `{"a":[turns],"b":[turns]}`, a turn being `{"role","content"}` → `{"logit","a_better"}`.
    case compareConversations(mode: CompareMode)
}

/// A line that could not be processed.
public struct LineFailure: Error, CustomStringConvertible, Sendable {
    /// 1-based line number in the input.
    public var line: Int
    /// The input's `id`, when the line parsed far enough to have one.
    public var id: JSONValue?
    public var message: String

    public init(line: Int, id: JSONValue? = nil, message: String) {
        self.line = line
        self.id = id
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }

    /// The JSONL record written in place of the result with `--on-error skip`.
    public var record: String {
        var members: [(String, JSONValue)] = []
        if let id { members.append(("id", id)) }
        members.append(("error", .string(description)))
        return JSONValue.object(members).serialized
    }
}

/// What became of one input line.
public enum LineOutcome: Sendable {
    /// The output line (compact JSON, no newline).
    case output(String)
    /// A blank line: ignored, nothing written.
    case blank
    case failure(LineFailure)
}

/// Parses JSONL request lines, runs them on a ranker and formats the result lines. The CLI
/// does only the IO around this, so all of its line semantics are testable here.
public struct LineProcessor: Sendable {
    public var task: LineTask
    /// Longer lines are rejected without parsing (over-long input).
    public var maxLineBytes: Int

    public init(task: LineTask, maxLineBytes: Int = 8 << 20) {
        self.task = task
        self.maxLineBytes = maxLineBytes
    }

    /// A parsed request.
    public enum Request: Sendable, Equatable {
        case compare(CompareRequest)
        case candidates(RankRequest)
        case conversations(ConversationRequest)
    }

    /// The shape this task expects, for error messages.
    public var expectedShape: String {
        switch task {
        case .compare: return #"{"prompt": "...", "a": "...", "b": "..."} (optional "instruction", "id")"#
        case .rank, .select: return #"{"prompt": "...", "candidates": ["...", ...]} (optional "instruction", "id")"#
        case .rankWithReference: return #"{"prompt": "...", "candidates": ["...", ...]} (optional "reference", "instruction", "id")"#
        case .compareConversations:
            return #"{"a": [{"role": "USER", "content": "..."}, {"role": "ASSISTANT", "content": "..."}, ...], "b": [...]} (optional "id")"#
        }
    }

    /// Parses and validates one line. Returns nil for a blank line.
    public func parse(_ line: some Collection<UInt8>, number: Int) throws(LineFailure) -> (id: JSONValue?, request: Request)? {
        func fail(_ message: String, id: JSONValue? = nil) -> LineFailure { LineFailure(line: number, id: id, message: message) }
        if line.count > maxLineBytes {
            throw fail("the line is \(line.count) bytes, over the \(maxLineBytes)-byte limit (raise it with --max-line-bytes)")
        }
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }) { return nil }
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch let error as JSONValue.ParseError {
            throw fail("\(error); expected \(expectedShape)")
        } catch {
            throw fail("\(error)")
        }
        return try request(from: value, number: number)
    }

    /// Validates one already parsed request object (what `parse` does after the JSON; a server
    /// that parsed a body holding several requests calls this per item).
    public func request(from value: JSONValue, number: Int) throws(LineFailure) -> (id: JSONValue?, request: Request) {
        func fail(_ message: String, id: JSONValue? = nil) -> LineFailure { LineFailure(line: number, id: id, message: message) }
        guard case .object = value else { throw fail("expected a JSON object, found \(value.kindName); expected \(expectedShape)") }
        let id = value["id"]
        func string(_ key: String, optional: Bool = false) throws(LineFailure) -> String? {
            guard let field = value[key], field != .null || !optional else {
                if optional { return nil }
                throw fail("missing field \"\(key)\"; expected \(expectedShape)", id: id)
            }
            guard case .string(let text) = field else { throw fail("field \"\(key)\" must be a string, found \(field.kindName)", id: id) }
            return text
        }
        func strings(_ key: String) throws(LineFailure) -> [String] {
            guard let field = value[key] else { throw fail("missing field \"\(key)\"; expected \(expectedShape)", id: id) }
            guard case .array(let elements) = field else { throw fail("field \"\(key)\" must be an array of strings, found \(field.kindName)", id: id) }
            guard !elements.isEmpty else { throw fail("field \"\(key)\" is an empty list; give at least one candidate", id: id) }
            var out: [String] = []
            for (index, element) in elements.enumerated() {
                guard case .string(let text) = element else { throw fail("\(key)[\(index)] must be a string, found \(element.kindName)", id: id) }
                out.append(text)
            }
            return out
        }
        func turns(_ key: String) throws(LineFailure) -> [Turn] {
            guard let field = value[key] else { throw fail("missing field \"\(key)\"; expected \(expectedShape)", id: id) }
            guard case .array(let elements) = field else { throw fail("field \"\(key)\" must be an array of turns, found \(field.kindName)", id: id) }
            var out: [Turn] = []
            for (index, element) in elements.enumerated() {
                guard case .object = element, case .string(let role)? = element["role"], case .string(let content)? = element["content"] else {
                    throw fail("\(key)[\(index)] must be an object with string fields \"role\" and \"content\"", id: id)
                }
                // "user"/"assistant" in any case name LLM-Blender's upper-case roles (chat APIs
                // write them in lower case); other roles stay as given and are refused by the API.
                let canonical = role.uppercased()
                out.append(Turn(role: canonical == "USER" || canonical == "ASSISTANT" ? canonical : role, content: content))
            }
            return out
        }
        let instruction = try string("instruction", optional: true) ?? ""
        switch task {
        case .compare:
            return (id, .compare(CompareRequest(prompt: try string("prompt")!, a: try string("a")!, b: try string("b")!, instruction: instruction)))
        case .rank, .select, .rankWithReference:
            var reference: String? = nil
            if case .rankWithReference = task { reference = try string("reference", optional: true) }
            return (id, .candidates(RankRequest(prompt: try string("prompt")!, candidates: try strings("candidates"), instruction: instruction,
                                                reference: reference)))
        case .compareConversations:
            let request = ConversationRequest(a: try turns("a"), b: try turns("b"))
            do { _ = try ConversationPair(request.a, request.b) } catch { throw fail("\(error)", id: id) }
            return (id, .conversations(request))
        }
    }

    /// Runs a parsed request and formats its output line.
    public func run(_ request: Request, id: JSONValue?, ranker: PairRanker, options: RankerOptions? = nil) throws -> String {
        var members: [(String, JSONValue)] = []
        if let id { members.append(("id", id)) }
        switch (task, request) {
        case (.compare(let mode), .compare(let r)):
            let c = try ranker.compare(r.prompt, r.a, r.b, instruction: r.instruction, mode: mode, options: options)
            members += [("logit", .number(c.logit)), ("a_better", .bool(c.aBetter))]
        case (.compareConversations(let mode), .conversations(let r)):
            let c = try ranker.compareConversations(r.a, r.b, mode: mode, options: options)
            members += [("logit", .number(c.logit)), ("a_better", .bool(c.aBetter))]
        case (.rank(let strategy), .candidates(let r)):
            let ranking = try ranker.rank(r.prompt, r.candidates, instruction: r.instruction, strategy: strategy, options: options)
            members += [("scores", ranking.scores.map { .array($0.map(JSONValue.number)) } ?? .null),
                        ("ranks", .array(ranking.ranks.map(JSONValue.number)))]
        case (.rankWithReference(let mode), .candidates(let r)):
            let ranking = try ranker.rankWithReference(r.prompt, r.candidates, instruction: r.instruction, refMode: mode,
                                                       reference: r.reference, options: options)
            members += [("scores", .array(ranking.scores!.map(JSONValue.number))), ("ranks", .array(ranking.ranks.map(JSONValue.number))),
                        ("reference", .string(ranking.reference ?? ""))]
        case (.select(let strategy, let worst, let returnAll), .candidates(let r)):
            let s = worst
                ? try ranker.worstOfN(r.prompt, r.candidates, instruction: r.instruction, strategy: strategy, options: options)
                : try ranker.bestOfN(r.prompt, r.candidates, instruction: r.instruction, strategy: strategy, options: options)
            members += [(worst ? "worst" : "best", .string(r.candidates[s.index])), ("index", .number(s.index))]
            if returnAll { members.append(("order", .array(s.order.map(JSONValue.number)))) }
        default:
            preconditionFailure("request kind does not match the task")
        }
        return JSONValue.object(members).serialized
    }

    /// Parse + run one line; every failure names the line.
    public func process(_ line: some Collection<UInt8>, number: Int, ranker: PairRanker, options: RankerOptions? = nil) -> LineOutcome {
        let parsed: (id: JSONValue?, request: Request)?
        do { parsed = try parse(line, number: number) } catch { return .failure(error) }
        guard let parsed else { return .blank }
        do {
            return .output(try run(parsed.request, id: parsed.id, ranker: ranker, options: options))
        } catch {
            return .failure(LineFailure(line: number, id: parsed.id, message: "\(error)"))
        }
    }

    /// Processes a chunk of numbered lines, `options.batchSize` lines at a time; outcomes in
    /// input order. `progress` is called after each line.
    public func process(_ lines: [(number: Int, bytes: [UInt8])], ranker: PairRanker, options: RankerOptions? = nil,
                        progress: ProgressHandler? = nil) -> [LineOutcome] {
        let indexed = Array(lines.indices)
        let results = ranker.batch(indexed, options: options, progress: progress) { ranker, k, o in
            self.process(lines[k].bytes, number: lines[k].number, ranker: ranker, options: o)
        }
        return results.enumerated().map { k, result in
            switch result {
            case .success(let outcome): return outcome
            case .failure(let error): return .failure(LineFailure(line: lines[k].number, id: nil, message: "\(error)"))
            }
        }
    }
}
