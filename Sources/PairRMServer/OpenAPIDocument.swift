// Generated from Formats/openapi.json by Tools/server/make_openapi_swift.py; do not edit.
extension ScoringServer {
    static let openAPIDocument = #"""
{
 "openapi": "3.1.0",
 "info": {
  "title": "PairRM-Swift scoring server (pairrm serve)",
  "version": "1.1.0",
  "description": "PairRM (a pairwise reward model) over HTTP. The /v1/* bodies are exactly the JSON lines of the pairrm CLI commands of the same name (one object, or an array of them). /rerank (TEI), /v1/rerank (Jina/Cohere), /score (vLLM) and /get_reward (OpenRLHF) map other servers' shapes onto PairRM: texts for one query are ranked against each other (LLM-Blender's rank, max_logits margins); scores are the logistic of the margin unless raw. This file is served at GET /openapi.json. Errors are {error, error_type} with error_type one of Validation, Unauthorized, Overloaded, Timeout, Unhealthy, Model, ClientClosed."
 },
 "components": {
  "securitySchemes": {
   "bearer": {
    "type": "http",
    "scheme": "bearer",
    "description": "required when the server runs with --api-key"
   }
  },
  "schemas": {
   "Error": {
    "type": "object",
    "required": [
     "error",
     "error_type"
    ],
    "properties": {
     "error": {
      "type": "string"
     },
     "error_type": {
      "type": "string",
      "enum": [
       "Validation",
       "Unauthorized",
       "Overloaded"
      ]
     }
    }
   },
   "CompareRequest": {
    "type": "object",
    "required": [
     "prompt",
     "a",
     "b"
    ],
    "properties": {
     "id": {},
     "prompt": {
      "type": "string"
     },
     "a": {
      "type": "string"
     },
     "b": {
      "type": "string"
     },
     "instruction": {
      "type": "string"
     }
    }
   },
   "CompareResult": {
    "type": "object",
    "properties": {
     "id": {},
     "logit": {
      "type": "number"
     },
     "a_better": {
      "type": "boolean"
     }
    }
   },
   "CandidatesRequest": {
    "type": "object",
    "required": [
     "prompt",
     "candidates"
    ],
    "properties": {
     "id": {},
     "prompt": {
      "type": "string"
     },
     "candidates": {
      "type": "array",
      "items": {
       "type": "string"
      },
      "minItems": 1
     },
     "instruction": {
      "type": "string"
     }
    }
   },
   "RankResult": {
    "type": "object",
    "properties": {
     "id": {},
     "scores": {
      "type": "array",
      "items": {
       "type": "number"
      }
     },
     "ranks": {
      "type": "array",
      "items": {
       "type": "integer"
      }
     }
    }
   },
   "BestOfNResult": {
    "type": "object",
    "properties": {
     "id": {},
     "best": {
      "type": "string"
     },
     "index": {
      "type": "integer"
     }
    }
   },
   "Turn": {
    "type": "object",
    "required": [
     "role",
     "content"
    ],
    "properties": {
     "role": {
      "type": "string"
     },
     "content": {
      "type": "string"
     }
    }
   },
   "ConversationsRequest": {
    "type": "object",
    "required": [
     "a",
     "b"
    ],
    "properties": {
     "id": {},
     "a": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Turn"
      }
     },
     "b": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Turn"
      }
     }
    }
   }
  },
  "responses": {
   "MalformedJSON": {
    "description": "malformed JSON, invalid UTF-8, nesting deeper than 128 levels, or a bad query parameter",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Unauthorized": {
    "description": "missing or wrong bearer token",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "TooLarge": {
    "description": "body, items or characters per text over the server's limits, or (with truncate=false) a text over its token budget",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Invalid": {
    "description": "a field is missing, mistyped or empty",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Overloaded": {
    "description": "the scoring queue is full (Retry-After)",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "headers": {
     "Retry-After": {
      "schema": {
       "type": "integer"
      }
     }
    }
   },
   "SlowBody": {
    "description": "the body did not arrive within the server's --body-timeout (the connection is closed)",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Unavailable": {
    "description": "the model is still loading, or the request was not answered within --request-timeout (error_type Timeout); Retry-After is set",
    "headers": {
     "Retry-After": {
      "schema": {
       "type": "integer"
      }
     }
    },
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "ModelFault": {
    "description": "the model produced a non-finite logit or lacks something the ranker needs (error_type Model): the model file is broken",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   }
  },
  "parameters": {
   "Truncate": {
    "name": "truncate",
    "in": "query",
    "required": false,
    "schema": {
     "type": "boolean",
     "default": true
    },
    "description": "true (default): texts over the model's token budget keep their beginning, as LLM-Blender does; false: such a request is answered 413. TEI's /rerank takes the same choice as its body field truncate."
   }
  }
 },
 "paths": {
  "/health": {
   "get": {
    "summary": "readiness: 200 once the model is loaded, 503 while loading or draining",
    "responses": {
     "200": {
      "description": "ready",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "status": {
           "type": "string",
           "enum": [
            "ok"
           ]
          }
         }
        }
       }
      }
     },
     "503": {
      "description": "loading (the model is being read or converted) or draining (SIGTERM received; requests in flight finish)",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "status": {
           "type": "string",
           "enum": [
            "loading",
            "draining"
           ]
          }
         }
        }
       }
      }
     }
    }
   }
  },
  "/info": {
   "get": {
    "summary": "model and limits",
    "responses": {
     "200": {
      "description": "model, status, version, kernel_variant, recipe, weights, token budgets, threads_per_worker, body/item/character limits, workers, queue limit, request timeout",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/metrics": {
   "get": {
    "summary": "Prometheus metrics",
    "responses": {
     "200": {
      "description": "requests by endpoint and status, latency histograms, queue gauges",
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      }
     }
    }
   }
  },
  "/openapi.json": {
   "get": {
    "summary": "this document",
    "responses": {
     "200": {
      "description": "OpenAPI 3.1",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/v1/compare": {
   "post": {
    "summary": "LLM-Blender compare ([A,B]+[B,A])",
    "description": "",
    "security": [
     {},
     {
      "bearer": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "oneOf": [
         {
          "$ref": "#/components/schemas/CompareRequest"
         },
         {
          "type": "array",
          "items": {
           "$ref": "#/components/schemas/CompareRequest"
          },
          "minItems": 1
         }
        ]
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "scored",
      "content": {
       "application/json": {
        "schema": {
         "oneOf": [
          {
           "$ref": "#/components/schemas/CompareResult"
          },
          {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/CompareResult"
           },
           "minItems": 1
          }
         ]
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/MalformedJSON"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "408": {
      "$ref": "#/components/responses/SlowBody"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/Invalid"
     },
     "429": {
      "$ref": "#/components/responses/Overloaded"
     },
     "500": {
      "$ref": "#/components/responses/ModelFault"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    },
    "parameters": [
     {
      "$ref": "#/components/parameters/Truncate"
     }
    ]
   }
  },
  "/v1/rank": {
   "post": {
    "summary": "LLM-Blender rank (full matrix, max_logits)",
    "description": "",
    "security": [
     {},
     {
      "bearer": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "oneOf": [
         {
          "$ref": "#/components/schemas/CandidatesRequest"
         },
         {
          "type": "array",
          "items": {
           "$ref": "#/components/schemas/CandidatesRequest"
          },
          "minItems": 1
         }
        ]
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "scored",
      "content": {
       "application/json": {
        "schema": {
         "oneOf": [
          {
           "$ref": "#/components/schemas/RankResult"
          },
          {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/RankResult"
           },
           "minItems": 1
          }
         ]
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/MalformedJSON"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "408": {
      "$ref": "#/components/responses/SlowBody"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/Invalid"
     },
     "429": {
      "$ref": "#/components/responses/Overloaded"
     },
     "500": {
      "$ref": "#/components/responses/ModelFault"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    },
    "parameters": [
     {
      "$ref": "#/components/parameters/Truncate"
     }
    ]
   }
  },
  "/v1/best-of-n": {
   "post": {
    "summary": "LLM-Blender get_best_of_n (full ranking)",
    "description": "",
    "security": [
     {},
     {
      "bearer": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "oneOf": [
         {
          "$ref": "#/components/schemas/CandidatesRequest"
         },
         {
          "type": "array",
          "items": {
           "$ref": "#/components/schemas/CandidatesRequest"
          },
          "minItems": 1
         }
        ]
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "scored",
      "content": {
       "application/json": {
        "schema": {
         "oneOf": [
          {
           "$ref": "#/components/schemas/BestOfNResult"
          },
          {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/BestOfNResult"
           },
           "minItems": 1
          }
         ]
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/MalformedJSON"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "408": {
      "$ref": "#/components/responses/SlowBody"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/Invalid"
     },
     "429": {
      "$ref": "#/components/responses/Overloaded"
     },
     "500": {
      "$ref": "#/components/responses/ModelFault"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    },
    "parameters": [
     {
      "$ref": "#/components/parameters/Truncate"
     }
    ]
   }
  },
  "/v1/compare-conversations": {
   "post": {
    "summary": "LLM-Blender compare_conversations",
    "description": "",
    "security": [
     {},
     {
      "bearer": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "oneOf": [
         {
          "$ref": "#/components/schemas/ConversationsRequest"
         },
         {
          "type": "array",
          "items": {
           "$ref": "#/components/schemas/ConversationsRequest"
          },
          "minItems": 1
         }
        ]
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "scored",
      "content": {
       "application/json": {
        "schema": {
         "oneOf": [
          {
           "$ref": "#/components/schemas/CompareResult"
          },
          {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/CompareResult"
           },
           "minItems": 1
          }
         ]
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/MalformedJSON"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "408": {
      "$ref": "#/components/responses/SlowBody"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/Invalid"
     },
     "429": {
      "$ref": "#/components/responses/Overloaded"
     },
     "500": {
      "$ref": "#/components/responses/ModelFault"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    },
    "parameters": [
     {
      "$ref": "#/components/parameters/Truncate"
     }
    ]
   }
  },
  "/rerank": {
   "post": {
    "summary": "TEI rerank",
    "description": "Sorted by score. raw_scores false (default): logistic of the max_logits margin, in (0, 1); true: the margin. truncate false: over-long texts are refused (413) instead of truncated.",
    "security": [
     {},
     {
      "bearer": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "query",
         "texts"
        ],
        "properties": {
         "query": {
          "type": "string"
         },
         "texts": {
          "type": "array",
          "items": {
           "type": "string"
          },
          "minItems": 1
         },
         "raw_scores": {
          "type": "boolean"
         },
         "return_text": {
          "type": "boolean"
         },
         "truncate": {
          "type": "boolean"
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "scored",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "type": "object",
          "properties": {
           "index": {
            "type": "integer"
           },
           "score": {
            "type": "number"
           },
           "text": {
            "type": "string"
           }
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/MalformedJSON"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "408": {
      "$ref": "#/components/responses/SlowBody"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/Invalid"
     },
     "429": {
      "$ref": "#/components/responses/Overloaded"
     },
     "500": {
      "$ref": "#/components/responses/ModelFault"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/v1/rerank": {
   "post": {
    "summary": "Jina / Cohere rerank",
    "description": "",
    "security": [
     {},
     {
      "bearer": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "query",
         "documents"
        ],
        "properties": {
         "query": {
          "type": "string"
         },
         "documents": {
          "type": "array",
          "items": {
           "type": "string"
          },
          "minItems": 1
         },
         "top_n": {
          "type": "integer",
          "minimum": 1
         },
         "return_documents": {
          "type": "boolean"
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "scored",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "model": {
           "type": "string"
          },
          "results": {
           "type": "array",
           "items": {
            "type": "object",
            "properties": {
             "index": {
              "type": "integer"
             },
             "relevance_score": {
              "type": "number"
             },
             "document": {
              "type": "object"
             }
            }
           }
          },
          "usage": {
           "type": "object"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/MalformedJSON"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "408": {
      "$ref": "#/components/responses/SlowBody"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/Invalid"
     },
     "429": {
      "$ref": "#/components/responses/Overloaded"
     },
     "500": {
      "$ref": "#/components/responses/ModelFault"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    },
    "parameters": [
     {
      "$ref": "#/components/parameters/Truncate"
     }
    ]
   }
  },
  "/score": {
   "post": {
    "summary": "vLLM score",
    "description": "text_2 ranked against each other for text_1, scores in input order (a single text scores 0.5).",
    "security": [
     {},
     {
      "bearer": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "text_1",
         "text_2"
        ],
        "properties": {
         "text_1": {
          "type": "string"
         },
         "text_2": {
          "oneOf": [
           {
            "type": "string"
           },
           {
            "type": "array",
            "items": {
             "type": "string"
            }
           }
          ]
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "scored",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "object": {
           "type": "string"
          },
          "model": {
           "type": "string"
          },
          "data": {
           "type": "array",
           "items": {
            "type": "object",
            "properties": {
             "index": {
              "type": "integer"
             },
             "object": {
              "type": "string"
             },
             "score": {
              "type": "number"
             }
            }
           }
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/MalformedJSON"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "408": {
      "$ref": "#/components/responses/SlowBody"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/Invalid"
     },
     "429": {
      "$ref": "#/components/responses/Overloaded"
     },
     "500": {
      "$ref": "#/components/responses/ModelFault"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    },
    "parameters": [
     {
      "$ref": "#/components/parameters/Truncate"
     }
    ]
   }
  },
  "/get_reward": {
   "post": {
    "summary": "OpenRLHF remote reward",
    "description": "query = prompt + response. With labels: reward = PairRM's order-averaged logit of the response against the label (> 0: better than the reference). Without: responses sharing a prompt are ranked together and the reward is the response's max_logits margin (0 when alone).",
    "security": [
     {},
     {
      "bearer": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "query"
        ],
        "properties": {
         "query": {
          "type": "array",
          "items": {
           "type": "string"
          }
         },
         "prompts": {
          "type": "array",
          "items": {
           "type": "string"
          }
         },
         "labels": {
          "type": "array",
          "items": {
           "type": "string"
          }
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "scored",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "rewards": {
           "type": "array",
           "items": {
            "type": "number"
           }
          },
          "scores": {
           "type": "array",
           "items": {
            "type": "number"
           }
          },
          "extra_logs": {
           "type": "object"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/MalformedJSON"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "408": {
      "$ref": "#/components/responses/SlowBody"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/Invalid"
     },
     "429": {
      "$ref": "#/components/responses/Overloaded"
     },
     "500": {
      "$ref": "#/components/responses/ModelFault"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    },
    "parameters": [
     {
      "$ref": "#/components/parameters/Truncate"
     }
    ]
   }
  }
 }
}

"""#
}
