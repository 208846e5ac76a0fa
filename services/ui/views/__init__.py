"""The pages of the UI, one module each; `render(api, book, t)` draws one."""
