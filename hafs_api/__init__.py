"""The hafs wire contract: protos with their generated code, the error tree and path rules."""
