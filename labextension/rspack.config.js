// Merged into @jupyter/builder's config (package.json "webpackConfig"). The stylesheet ships in
// the JavaScript bundle as a string (style/index.js): minified first, so comments and indentation
// cost no bytes. No browser targets are given, so nothing is prefixed or lowered.
module.exports = {
  module: {
    rules: [
      {
        test: /\.raw\.css$/,
        use: [{ loader: 'builtin:lightningcss-loader', options: { minify: true } }]
      }
    ]
  }
};
