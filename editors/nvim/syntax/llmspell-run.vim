" Highlighting for llmspell run buffers (filetype llmspell-run).
if exists('b:current_syntax')
  finish
endif
syntax match llmspellRunHeader /^── run .*/
syntax match llmspellRunEvent /^\[event\]/
syntax match llmspellRunHook /^\[hook\]/
syntax match llmspellRunStderr /^\[stderr\].*/
syntax match llmspellRunSuccess /^✔ .*/
syntax match llmspellRunFailure /^✖ .*/
syntax match llmspellRunCancelled /^■ .*/
syntax match llmspellRunError /^error\( at [^:]*:\d\+\)\?:/
highlight default link llmspellRunHeader Title
highlight default link llmspellRunEvent Identifier
highlight default link llmspellRunHook Special
highlight default link llmspellRunStderr WarningMsg
highlight default link llmspellRunSuccess DiagnosticOk
highlight default link llmspellRunFailure DiagnosticError
highlight default link llmspellRunCancelled DiagnosticWarn
highlight default link llmspellRunError ErrorMsg
let b:current_syntax = 'llmspell-run'
